// Placeholder module, imported by a relative URL from app.js.
export function greet(name) {
  return `${name} console`;
}
