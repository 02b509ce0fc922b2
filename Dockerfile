# The nomad-singleton image: the controller (Kubernetes chart, Nomad job) and the lock agent of
# specs whose lock.agent.driver is docker (its default entrypoint /usr/local/bin/nomad-singleton,
# the static guard beside it). docs/install.md, "The container image":
#   docker build -t registry.example.com/nomad-singleton:0.1.0 \
#       --build-arg LOCK_IMAGE=registry.example.com/nomad-singleton:0.1.0 .
# or scripts/image.sh --tag ... (builds, then checks the image: tests/package/test_image.sh).
#
# Stage 1 builds the Debian package with the project's scripts (.ci/setup-deps.sh --build-only,
# scripts/package.sh --no-tests: Release, -O2, warnings as errors, the product's targets and the
# packages they need, no test dependencies); stage 2 installs that package, so the runtime
# libraries are the package's own Depends (dpkg-shlibdeps), never a list kept by hand.
ARG DEBIAN_IMAGE=debian:bookworm

FROM ${DEBIAN_IMAGE} AS build
# The default lock agent image compiled into the binary (spec lock.agent.image): the name this
# image will be pushed under.
ARG LOCK_IMAGE=nomad-singleton:0.1.0
WORKDIR /src
COPY .ci/setup-deps.sh .ci/setup-deps.sh
RUN bash .ci/setup-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -G Ninja -DNSG_DEFAULT_LOCK_IMAGE="${LOCK_IMAGE}" \
      -DNSG_BUILD_TESTS=OFF -DNSG_BUILD_BENCH=OFF >/dev/null \
 && bash scripts/package.sh --dir build --no-tests \
 && cp build/package/nomad-singleton_*.deb /nomad-singleton.deb

FROM ${DEBIAN_IMAGE}-slim
COPY --from=build /nomad-singleton.deb /tmp/nomad-singleton.deb
# The symlinks: the renderer's default agent command is /usr/local/bin/nomad-singleton; the agent
# finds the guard beside /proc/self/exe, which resolves to /usr/bin.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates /tmp/nomad-singleton.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/nomad-singleton.deb /usr/share/doc/nomad-singleton \
 && ln -s /usr/bin/nomad-singleton /usr/local/bin/nomad-singleton \
 && ln -s /usr/bin/nomad-singleton-guard /usr/local/bin/nomad-singleton-guard \
 && groupadd --system --gid 10001 nomad-singleton \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin nomad-singleton \
 && /usr/local/bin/nomad-singleton version
USER 10001:10001
# --http-addr of the controller (the chart and the Nomad job pass 0.0.0.0:9464).
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/nomad-singleton"]
CMD ["--help"]
