# syntax=docker/dockerfile:1
# leasesim in a small image: a static binary on distroless, run as non-root.
#   docker build -t leasesim --build-arg COMMIT="$(git rev-parse HEAD)" .
#   docker run --rm leasesim run --scenario incident-2018 --what-if client-version=v3.7.3

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not refetch them.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG COMMIT=unknown
ENV CGO_ENABLED=0
RUN go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.commit=${COMMIT}" \
      -o /out/leasesim ./cmd/leasesim

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/leasesim /usr/local/bin/leasesim
USER nonroot:nonroot
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/leasesim"]
CMD ["--help"]
