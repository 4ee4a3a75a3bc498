export function totalLabel(cents: number[]): string {
  return formatPrice(cents.reduce((a, b) => a + b, 0));
}
