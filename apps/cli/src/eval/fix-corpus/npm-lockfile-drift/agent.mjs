// Edit plan of the scripted agent: regenerate the lockfile the way a developer would, offline
// (the workspace packages are all local), inside the sandbox like any agent command.
import { execFileSync } from 'node:child_process';

export default async function edit({ workspace }) {
  execFileSync('npm', ['install', '--package-lock-only', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--no-update-notifier'], { cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'] });
  return 'package-lock.json: updated with npm install --package-lock-only';
}
