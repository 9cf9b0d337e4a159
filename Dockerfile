# syntax=docker/dockerfile:1
#
# Timbre in one image: `timbre serve` by default, `timbre worker` (or any other subcommand)
# when named.
#
#   docker build -t timbre .
#   docker run -p 8000:8000 -v timbre-data:/var/lib/timbre -v ~/Music:/music:ro timbre
#   docker run -e TIMBRE_DATABASE_URL=postgresql://u:p@db/timbre --no-healthcheck timbre worker
#
# With no TIMBRE_DATABASE_URL the container runs its own PostgreSQL 15 under TIMBRE_HOME
# (/var/lib/timbre: keep it on a volume). scripts/test-deploy lints this file (hadolint) and
# checks that every package named here exists in Debian 12.

# ---- build: the Swift 6 toolchain on Debian 12, with the C libraries' headers --------------
# Swift 6.3.1 is the toolchain the project is built and tested with (Package.swift asks for 6.0+).
FROM swift:6.3.1-bookworm AS build

# Unpinned on purpose: Debian 12 replaces a package's version on every point release and
# security update, so a pinned `pkg=version` stops installing at the next one (DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      pkg-config \
      libsndfile1-dev libmpg123-dev libfftw3-dev libopenblas-dev libpq-dev libmicrohttpd-dev \
      libtag1-dev libtagc0-dev zlib1g-dev libfluidsynth-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Dependencies first, so that a change to Sources/ does not fetch them again.
COPY Package.* ./
RUN swift package resolve
# Tests/ only because SwiftPM wants every target's folder to exist; nothing there is built.
COPY Sources ./Sources
COPY Tests ./Tests
# The Swift runtime and Foundation are linked in (--static-swift-stdlib): the runtime image
# needs no toolchain, only the C libraries below. swift-backtrace prints a crash's stack.
RUN swift build -c release --product timbre --static-swift-stdlib \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/timbre" /staging/bin/timbre \
 && install -m 0755 /usr/libexec/swift/linux/swift-backtrace-static /staging/bin/swift-backtrace

# ---- runtime: Debian 12 slim with the shared libraries `timbre` links ----------------------
FROM debian:bookworm-slim

# One package per shared library the binary needs (`readelf -d timbre`, `dpkg -S`):
#   libsndfile.so.1 libsndfile1 · libmpg123.so.0 libmpg123-0 · libfftw3f.so.3 libfftw3-single3
#   libopenblas.so.0 libopenblas0-pthread · libpq.so.5 libpq5 · libmicrohttpd.so.12 libmicrohttpd12
#   libtag.so.1 libtag1v5 (TagLib's C++ API, the read-only tag reader) · libz.so.1 zlib1g
#   libtag_c.so.0 libtagc0 (TagLib's C API: the tests use it; builds before the read-only reader
#   linked it too, 78 kB) · libstdc++.so.6 libstdc++6 (the C++ reader and the Swift runtime)
#   libfluidsynth.so.3 libfluidsynth3 (only `timbre demo-corpus` uses it, but the binary links it)
#   libcrypto.so.3 libssl3 (SHA-256)
# and for what it reads at run time: postgresql-15 (initdb/pg_ctl for the embedded catalog),
# libjs-chart.js (the web UI's charts, served from /usr/share/javascript), ca-certificates
# (TLS to an external PostgreSQL), curl (the HEALTHCHECK), tini (PID 1: forwards SIGTERM,
# reaps the embedded PostgreSQL's processes).
# postgresql-common is installed first and told not to create Debian's default cluster:
# Timbre makes its own under TIMBRE_HOME.
# Unpinned on purpose, as in the build stage (DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-common \
 && sed -ri 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
      /etc/postgresql-common/createcluster.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libsndfile1 libmpg123-0 libfftw3-single3 libopenblas0-pthread libpq5 libmicrohttpd12 \
      libtag1v5 libtagc0 zlib1g libstdc++6 libfluidsynth3 libssl3 \
      postgresql-15 libjs-chart.js ca-certificates curl tini \
 && rm -rf /var/lib/apt/lists/*

# A fixed, numeric, unprivileged user (Kubernetes' runAsNonRoot can check a number).
RUN groupadd --system --gid 10001 timbre \
 && useradd --system --uid 10001 --gid timbre --home-dir /var/lib/timbre --no-create-home \
      --shell /usr/sbin/nologin timbre \
 && install -d -o timbre -g timbre -m 0750 /var/lib/timbre

# The layout `timbre` also finds by itself (web/, migrations/, models/default/ in a folder
# above the executable); the ENV below says it outright.
COPY --from=build /staging/bin/ /opt/timbre/bin/
COPY web /opt/timbre/web
COPY migrations /opt/timbre/migrations
COPY models/default /opt/timbre/models/default

# Configuration is by environment: TIMBRE_DATABASE_URL (a libpq URL; unset = the embedded
# PostgreSQL under TIMBRE_HOME), TIMBRE_HOME (catalog, retrained models, caches),
# TIMBRE_WORKER_LEASE, TIMBRE_THREADS (compute threads; default all the host's cores).
ENV PATH=/opt/timbre/bin:$PATH \
    TIMBRE_HOME=/var/lib/timbre \
    TIMBRE_WEB=/opt/timbre/web \
    TIMBRE_MIGRATIONS=/opt/timbre/migrations \
    TIMBRE_MODEL=/opt/timbre/models/default/model.safetensors \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/opt/timbre/bin/swift-backtrace

USER 10001:10001
WORKDIR /var/lib/timbre
VOLUME ["/var/lib/timbre"]
EXPOSE 8000

# /healthz answers as soon as the HTTP server listens (/readyz also wants the catalog and the
# index). A `timbre worker` container serves no HTTP: run it with --no-healthcheck.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["curl", "--fail", "--silent", "--show-error", "--output", "/dev/null", "http://127.0.0.1:8000/healthz"]

ENTRYPOINT ["/usr/bin/tini", "--", "timbre"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
