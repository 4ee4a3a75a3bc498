export function total(prices, discount) {
  const sum = prices.reduce((a, b) => a + b, 0);
  return sum * discount;
}
