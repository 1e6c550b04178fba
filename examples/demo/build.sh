#!/usr/bin/env bash
# Rebuilds examples/demo/image, the small real image the README scans:
#   layer 1  files and status.d entries of real Debian 12 packages (distroless style)
#   layer 2  a Go service built with go1.22.0 and golang.org/x/text v0.3.3, real npm
#            packages (lodash 4.17.15, minimist 1.2.0) with their lock file, and a
#            FAKE AWS credentials file
#   layer 3  deletes the credentials file again (it still ships in layer 2)
# Needs apt (a Debian mirror), npm (the npm registry) and the Go module proxy.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/debs" "$W/l1/var/lib/dpkg/status.d" "$W/l2/app" "$W/l2/root/.aws" "$W/l3/root/.aws" "$W/l3/app/config"

# Layer 1: real Debian packages, unpacked, with distroless-style status.d.
(cd "$W/debs" && apt-get download base-files netbase zlib1g tar libsystemd0 libssl3 >/dev/null 2>&1)
for deb in "$W"/debs/*.deb; do
  pkg=$(dpkg-deb -f "$deb" Package)
  dpkg-deb -x "$deb" "$W/l1"
  dpkg-deb -f "$deb" > "$W/l1/var/lib/dpkg/status.d/$pkg"
done
rm -rf "$W/l1/usr/share/doc" "$W/l1/usr/share/man" "$W/l1/usr/share/locale" "$W/l1/usr/share/info"

# Layer 2: the Go service and the node app.
(cd "$HERE/app" && CGO_ENABLED=0 GOTOOLCHAIN=go1.22.0 GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$W/l2/app/server" .)
cp "$HERE/app/package.json" "$W/l2/app/"
if [ -f "$HERE/app/package-lock.json" ]; then
  cp "$HERE/app/package-lock.json" "$W/l2/app/" && (cd "$W/l2/app" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null 2>&1)
else
  (cd "$W/l2/app" && npm install --ignore-scripts --no-audit --no-fund >/dev/null 2>&1) && cp "$W/l2/app/package-lock.json" "$HERE/app/"
fi
printf '# FAKE credentials for the customs demo - not real\n[default]\naws_access_key_id = AKIADEMOFAKEKEY12345\naws_secret_access_key = FAKEdemoSECRETkey/NotReal+0123456789abcd\n' > "$W/l2/root/.aws/credentials"
chmod 600 "$W/l2/root/.aws/credentials"

# Layer 3: the credentials file is deleted (a whiteout); a config is added.
touch "$W/l3/root/.aws/.wh.credentials"
printf 'listen: ":8080"\n' > "$W/l3/app/config/prod.yaml"

cd "$ROOT" && go run ./examples/demo/mkimage -out "$HERE/image" -ref demo \
  -layer "$W/l1=COPY debian-12 packages (base-files netbase zlib1g tar libsystemd0 libssl3)" \
  -layer "$W/l2=COPY demo-app (go1.22.0, x/text v0.3.3) and node_modules (lodash 4.17.15, minimist 1.2.0)" \
  -layer "$W/l3=RUN rm /root/.aws/credentials" \
  -env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin -env NODE_ENV=production \
  -cmd /app/server -label org.opencontainers.image.title=customs-demo -label team=demo
du -sh "$HERE/image"
