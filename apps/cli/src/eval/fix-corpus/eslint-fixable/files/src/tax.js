var rate = 0.2;

export function withTax(net) {
  let tax = net * rate;
  return { net: net, tax: tax };
}
