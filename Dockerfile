# The `pitcrew` CLI image: every command (ingest, worker, migrate, eval, bench, ...) run through
# tsx from the TypeScript sources; the command picks the role, e.g.
#   docker run --rm --env-file .env pitcrew:cli migrate
# docker-compose.yml runs the smaller per-app images instead (apps/ingest/Dockerfile,
# apps/worker/Dockerfile); this one is for operators' one-off commands against a deployment.
# Multi-stage: production dependencies are installed in a build stage; the runtime stage runs as
# the unprivileged `node` user.
# Node 24 (LTS; maintained until April 2028): Node 20 reached end of life in April 2026 and Node 22
# ends in April 2027. The workspace still runs on Node >= 20.12 (package.json engines) for development.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/llm/package.json packages/llm/
COPY packages/stack/package.json packages/stack/
COPY packages/testkit/package.json packages/testkit/
COPY apps/ingest/package.json apps/ingest/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
COPY apps/console/package.json apps/console/
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
RUN rm -rf .pitcrew .env && chown -R node:node /app
USER node
EXPOSE 3000
ENTRYPOINT ["node", "apps/cli/bin/pitcrew.mjs"]
CMD ["--help"]
