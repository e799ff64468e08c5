#!/usr/bin/env bash
# Install the Debian packages the demo and the tests use, if any is missing:
# espeak-ng + sox (demo corpus), flite + festival (cross-engine speech tests),
# chromium + chromedriver (browser tests), R with lme4, emmeans and ordinal
# (the statistical cross-checks). Needs root or sudo; otherwise it says what to install.
set -euo pipefail
need=()
for tool in espeak-ng sox flite chromium; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
command -v festival >/dev/null 2>&1 || need+=(festival)
# Two festival voices (a diphone and an HTS voice) for benchmarks/cross_engine.py.
[ -d /usr/share/festival/voices/english/kal_diphone ] || need+=(festvox-kallpc16k)
[ -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ] || need+=(festvox-us-slt-hts)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v Rscript >/dev/null 2>&1 || need+=(r-base-core)
for pkg in lme4 emmeans ordinal; do
  if ! command -v Rscript >/dev/null 2>&1 ||
     ! Rscript -e "quit(status = !requireNamespace('$pkg', quietly = TRUE))" >/dev/null 2>&1; then
    need+=("r-cran-$pkg")
  fi
done
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
