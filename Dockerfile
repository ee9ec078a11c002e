# syntax=docker/dockerfile:1
#
# The actlog image: one binary, every role (serve, ingest, process).
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     -t ghcr.io/actlog/actlog .
#   docker run -p 8080:8080 -v actlog-data:/data ghcr.io/actlog/actlog
#
# Needs BuildKit (the default builder since Docker 23): it creates WORKDIR
# /data owned by the non-root user, and caches npm and Go builds.
# deploy/docker/README.md has more; deploy/docker/dockerfile_test.go lints
# this file in CI.

# ---- 1. the dashboard (internal/web/ui): plain JS and CSS, the same for
# every target platform, so it is built once on the build machine.
FROM --platform=$BUILDPLATFORM node:24.11.1-bookworm-slim AS dashboard
WORKDIR /src/dashboard
COPY dashboard/package.json dashboard/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY dashboard/ ./
# build.mjs writes to ../internal/web/ui, i.e. /src/internal/web/ui.
RUN npm run build

# ---- 2. the binary. DuckDB is linked through cgo (static libraries for
# linux/amd64 and linux/arm64), so this stage runs on the target platform.
FROM golang:1.26.11-bookworm AS build
ARG VERSION=dev
ENV CGO_ENABLED=1 \
    GOFLAGS=-buildvcs=false
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY internal/ internal/
COPY --from=dashboard /src/internal/web/ui/ internal/web/ui/
RUN --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/actlog ./cmd/actlog \
    && /out/actlog version

# ---- 3. the runtime: glibc, libstdc++ and libgcc_s (what the DuckDB part
# of the binary links against), CA certificates and tzdata; no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=dev
ARG REVISION=
LABEL org.opencontainers.image.title="actlog" \
      org.opencontainers.image.description="User behaviour logs in one binary: Segment-compatible collector, DuckDB store, analyses API and dashboard" \
      org.opencontainers.image.source="https://github.com/actlog/actlog" \
      org.opencontainers.image.url="https://github.com/actlog/actlog" \
      org.opencontainers.image.documentation="https://github.com/actlog/actlog/tree/main/docs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/actlog /actlog
USER 65532:65532
WORKDIR /data
# So that a role run with its own arguments (docker run IMAGE serve --demo,
# IMAGE process --config …) still listens on all interfaces and keeps its
# data in the volume. --listen/--data-dir or docker run -e override them;
# the keys listen and data_dir of a configuration file do not (variables
# win over the file).
ENV ACTLOG_LISTEN=0.0.0.0:8080 \
    ACTLOG_DATA_DIR=/data
EXPOSE 8080
VOLUME /data
ENTRYPOINT ["/actlog"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/data"]
