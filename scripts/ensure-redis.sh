#!/usr/bin/env bash
# Run before `pnpm test` (the `pretest` script): the tests start their own redis-server and
# redis-cli (>= 6.2) from PATH. When they are missing this installs them where it can do so without
# asking for a password (apt-get as root or with passwordless sudo, Homebrew on macOS), and says so;
# otherwise it stops and prints the one command to run.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have redis-server && have redis-cli; then
  exit 0
fi

say() { printf 'tollgate: %s\n' "$*" >&2; }
stop() {
  say "redis-server and redis-cli (>= 6.2) are needed by the tests and are not on PATH."
  say "Install them with:"
  say "    $1"
  say "then run \`pnpm test\` again."
  exit 1
}

case "$(uname -s)" in
Darwin)
  if have brew; then
    say "redis-server is missing: installing it with \`brew install redis\`"
    brew install redis
  else
    stop "brew install redis   (Homebrew: https://brew.sh)"
  fi
  ;;
*)
  if have apt-get; then
    if [ "$(id -u)" = "0" ]; then
      SUDO=()
    elif have sudo && sudo -n true 2>/dev/null; then
      SUDO=(sudo -n)
    else
      stop "sudo apt-get install -y redis-server"
    fi
    say "redis-server is missing: installing it with \`${SUDO[*]:+${SUDO[*]} }apt-get install -y redis-server\`"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq redis-server >/dev/null
    # The Debian package starts a system service on 6379; the tests never use it (they start their
    # own servers on free ports), so leave it as the package set it up.
  elif have dnf; then
    stop "sudo dnf install -y redis"
  elif have apk; then
    stop "sudo apk add redis"
  elif have pacman; then
    stop "sudo pacman -S --noconfirm redis"
  else
    stop "your package manager's redis package (redis-server >= 6.2), or build it from https://redis.io/download"
  fi
  ;;
esac

if ! have redis-server || ! have redis-cli; then
  stop "the redis package of your system (it did not put redis-server and redis-cli on PATH)"
fi
say "installed $(redis-server --version | head -n 1)"
