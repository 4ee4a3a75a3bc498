export function discount(code) {
  if (code == 'SPRING') return 0.1;
  return 0;
}
