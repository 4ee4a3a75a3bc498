/**
 * The price with tax.
 * @param {number} amount
 * @param {number} rate the tax rate, 0.2 for 20 %
 * @returns {number}
 */
export function withTax(amount, rate) {
  return amount * rate;
}
