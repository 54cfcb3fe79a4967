# OptOutRegistry server image: multi-stage build, runs as a non-root user.
#   docker build -t optout-registry .
#   docker run -p 50051:50051 -p 50052:50052 -v optout-data:/data optout-registry
# The same steps without Docker are in README.md ("Run it").

ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
WORKDIR /src
# The image's platform (set by BuildKit/buildx: amd64, arm64): the published code is ReadyToRun, native code for one
# platform, and scripts/publish.sh maps it to the .NET runtime identifier (linux-x64, linux-arm64).
ARG TARGETARCH
# Only what the server and the CLI are built from: the build settings, the public protos, src/ and the publish script
# (no tests, benchmarks or tools). Restore runs as its own step so that a failing package source is told apart from a
# failing build. scripts/publish.sh is the same publish without Docker (README.md, "Run it").
COPY Directory.Build.props Directory.Packages.props .editorconfig ./
COPY protos/ protos/
COPY src/ src/
COPY scripts/publish.sh scripts/
RUN scripts/publish.sh restore
RUN scripts/publish.sh publish /app

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
# The .NET images ship an unprivileged "app" user (APP_UID); the data volume belongs to it.
WORKDIR /app
COPY --from=build /app/server ./
COPY --from=build /app/cli ./cli/
RUN mkdir -p /data && chown "$APP_UID" /data
USER $APP_UID
VOLUME ["/data"]
# 50051: gRPC (h2c). 50052: HTTP/1.1 JSON and Spawning-compatible gateways.
EXPOSE 50051 50052
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "optout-server.dll", "--urls", "http://0.0.0.0:50051", "--http-urls", "http://0.0.0.0:50052", "--data-dir", "/data"]
