export function total(items, discount) {
  const sum = items.reduce((s, item) => s + item.price * item.qty, 0);
  return sum * discount;
}
