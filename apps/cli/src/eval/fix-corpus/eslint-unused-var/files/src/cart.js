export function total(items) {
  const count = items.length;
  return items.reduce((sum, item) => sum + item.price, 0);
}
