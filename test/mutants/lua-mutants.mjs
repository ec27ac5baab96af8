export function luaMutants() {
  return []
}
