#!/usr/bin/env bash
# What `make` needs besides Python packages, for a fresh Debian machine with Python, Node and
# root: install it where it can (apt-get, as root), start the services the tests talk to when
# they are installed, or stop at once with one line saying what to install.
#
#   scripts/prereqs.sh python   # Python >= 3.11 with its venv module (every make target)
#   scripts/prereqs.sh test     # and Node.js with npm, Chromium, PostgreSQL, Redis
set -euo pipefail

PY=${PYTHON:-python3}
what=${1:-test}

need() { # one line, then stop
  echo "make: $*" >&2
  exit 1
}

updated=""
apt_install() { # as root on Debian only; quiet unless it fails
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  if [ -z "$updated" ]; then
    apt-get update -q >/dev/null || return 1
    updated=1
  fi
  echo "make: installing $* (apt-get)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# -- Python with venv (Debian ships the venv module apart) -------------------------------------
command -v "$PY" >/dev/null 2>&1 || need "install Python 3.11 or newer ($PY was not found)"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 ||
  need "Python 3.11 or newer is needed, and $PY is not (set PYTHON= to another interpreter)"
if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  v=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  apt_install "python$v-venv" || need "install Python's venv module: apt-get install python$v-venv"
fi
[ "$what" = python ] && exit 0

# -- Node.js with npm: the n8n, Make and Zapier suites run in it -------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm || need "install Node.js 20 or newer with npm (the platform suites run in it)"
fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' ||
  need "Node.js 20 or newer is needed for the platform suites; this is $(node --version)"

# -- Debian's Chromium: the relay's page tests drive it -----------------------------------------
if [ ! -x /usr/bin/chromium ] || ! command -v chromedriver >/dev/null 2>&1; then
  apt_install chromium chromium-driver ||
    need "install Debian's Chromium for the relay's page tests: apt-get install chromium chromium-driver"
fi

# -- PostgreSQL on 127.0.0.1:5432 and Redis: started when installed -----------------------------
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q >/dev/null 2>&1; }
if command -v pg_isready >/dev/null 2>&1 && ! pg_up; then
  if [ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in /etc/postgresql/*/; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start >/dev/null 2>&1 || true
    done
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if ! command -v pg_isready >/dev/null 2>&1 || ! pg_up; then
  echo "make: note: no PostgreSQL on 127.0.0.1:5432, so its tests are skipped (apt-get install postgresql)" >&2
fi
if command -v redis-server >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    >/dev/null 2>&1 || true
fi
exit 0
