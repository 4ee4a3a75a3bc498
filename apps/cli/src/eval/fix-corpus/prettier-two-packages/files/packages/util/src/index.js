export const round = (x) => Math.round(x*100)/100
export function clamp(value,min,max){ return Math.min(Math.max(value,min),max) }
