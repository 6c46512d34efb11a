# syntax=docker/dockerfile:1
# The MultiTenant sample server as a container image (README, "Deploy"):
#
#   docker build -t multitenant-sample .
#   docker run --rm -p 8080:8080 -e API_KEY="$(openssl rand -hex 32)" multitenant-sample
#
# Configuration is the sample's environment: DATABASE_URL (unset: the embedded store, one host), HOST_ID (unique per host of a
# fleet), API_KEY (the admin key; every host of a fleet needs the same one), HTTP_PORT, DOTNET_SHUTDOWNTIMEOUTSECONDS.
# tests/MultiTenant.Deployment.Tests reads this file: it publishes the sample with the RUN dotnet publish line below and starts it
# from its output folder with the ENTRYPOINT, the ENV and the HEALTHCHECK of the runtime stage.

ARG DOTNET_VERSION=10.0

# ---- build: restore (cached until a project file changes), then publish the sample framework-dependent ----
FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
WORKDIR /source
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/Directory.Build.props src/BannedSymbols.txt src/
COPY samples/Directory.Build.props samples/
COPY src/MultiTenant.Core/MultiTenant.Core.csproj src/MultiTenant.Core/
COPY src/MultiTenant.AspNetCore/MultiTenant.AspNetCore.csproj src/MultiTenant.AspNetCore/
COPY src/MultiTenant.AspNetCore.Prometheus/MultiTenant.AspNetCore.Prometheus.csproj src/MultiTenant.AspNetCore.Prometheus/
COPY src/MultiTenant.PostgreSql/MultiTenant.PostgreSql.csproj src/MultiTenant.PostgreSql/
COPY src/MultiTenant.CloudApi/MultiTenant.CloudApi.csproj src/MultiTenant.CloudApi/
COPY src/MultiTenant.Wuzapi/MultiTenant.Wuzapi.csproj src/MultiTenant.Wuzapi/
COPY src/MultiTenant.Orleans/MultiTenant.Orleans.csproj src/MultiTenant.Orleans/
COPY samples/MultiTenant.Sample/MultiTenant.Sample.csproj samples/MultiTenant.Sample/
RUN dotnet restore samples/MultiTenant.Sample/MultiTenant.Sample.csproj
COPY src/ src/
COPY samples/ samples/
RUN dotnet publish samples/MultiTenant.Sample/MultiTenant.Sample.csproj -c Release -p:UseAppHost=false --no-restore -o /app

# ---- runtime: the ASP.NET Core runtime only, as the image's unprivileged `app` user ----
FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
WORKDIR /app
COPY --from=build --chown=0:0 /app ./
ENV ASPNETCORE_ENVIRONMENT=Production \
    HTTP_PORT=8080 \
    DOTNET_SHUTDOWNTIMEOUTSECONDS=30
EXPOSE 8080
# 1654 is the `app` user and group of the .NET images ($APP_UID); numeric, so Kubernetes' runAsNonRoot can verify it. The app's
# files stay owned by root: the process cannot change them.
USER 1654:1654
# The runtime image has no curl or wget; bash (which it has) opens the port with /dev/tcp and checks the status line of /livez,
# which checks no dependency (a database outage must not mark every host unhealthy). Kubernetes ignores HEALTHCHECK and uses the
# StatefulSet's probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${HTTP_PORT:-8080} && printf 'GET /livez HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 2 _ status _ <&3 && [ \"$status\" = 200 ]"]
ENTRYPOINT ["dotnet", "MultiTenant.Sample.dll"]
