#!/usr/bin/env bash
# Install the Debian packages the demo and the tests use, if any is missing:
# espeak-ng + sox (demo corpus), chromium + chromedriver (browser tests),
# R with lme4 (the GLMM cross-check). Needs root or sudo; otherwise it says what to install.
set -euo pipefail
need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need+=(sox)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if ! command -v Rscript >/dev/null 2>&1; then need+=(r-base-core r-cran-lme4)
elif ! Rscript -e 'quit(status = !requireNamespace("lme4", quietly = TRUE))' >/dev/null 2>&1; then need+=(r-cran-lme4)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: please install: ${need[*]} (no apt-get here)" >&2; exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "warning: please install as root: apt-get install ${need[*]}" >&2; exit 0
  fi
fi
echo "installing system packages: ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
