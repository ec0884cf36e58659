# axis-gateway: build a wheel, install it into a slim runtime image, run as an unprivileged user.
#   docker build -t axis-gateway .
#   docker run -p 8000:8000 -e GATEWAY_DATABASE_URL=postgresql://gateway@db/gateway axis-gateway
# The image holds the gateway's distribution alone, without the simulated sector systems. The demo's image (for
# `gateway demo`: docker-compose.yml with GATEWAY_DEMO=true, the Kubernetes demo overlay) adds them, from demo/:
#   docker build --build-arg DEMO=true -t axis-gateway-demo .
# Traces (OpenTelemetry, off by default): add -e OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 (docs/tracing.md).
# `gateway serve` listens on GATEWAY_HOST:GATEWAY_PORT (0.0.0.0:8000 here), and the health check asks /healthz on
# that port: set GATEWAY_PORT to move both. The root filesystem may be read-only: the gateway writes only in
# GATEWAY_DATA_DIR (and /tmp).

FROM python:3.12-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.*
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY contracts ./contracts
COPY connectors ./connectors
COPY gateway ./gateway
RUN python -m build --wheel --outdir /dist \
 && python -m venv /opt/gateway \
 && /opt/gateway/bin/pip install --no-cache-dir "$(ls /dist/*.whl)[tracing,mysql]"
# DEMO=true: the simulated sector systems too (the distribution axis-gateway-demo, package simulators).
ARG DEMO=false
COPY demo ./demo
RUN if [ "$DEMO" = true ]; then \
      python -m build --wheel --outdir /dist-demo demo \
      && /opt/gateway/bin/pip install --no-cache-dir --no-deps /dist-demo/*.whl; \
    fi

FROM python:3.12-slim
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /var/lib/gateway --create-home gateway \
 && chmod 0700 /var/lib/gateway
COPY --from=build /opt/gateway /opt/gateway
ENV PATH=/opt/gateway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GATEWAY_DATA_DIR=/var/lib/gateway \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8000
USER gateway
WORKDIR /var/lib/gateway
VOLUME ["/var/lib/gateway"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GATEWAY_PORT', '8000'), timeout=2)"]
CMD ["gateway", "serve"]
