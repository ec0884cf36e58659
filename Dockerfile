# axis-gateway: build a wheel, install it into a slim runtime image, run as an unprivileged user.
#   docker build -t axis-gateway .
#   docker run -p 8000:8000 -e GATEWAY_DATABASE_URL=postgresql://gateway@db/gateway axis-gateway
# Traces (OpenTelemetry, off by default): add -e OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 (docs/tracing.md).

FROM python:3.12-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.*
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY contracts ./contracts
COPY connectors ./connectors
COPY simulators ./simulators
COPY gateway ./gateway
RUN python -m build --wheel --outdir /dist \
 && python -m venv /opt/gateway \
 && /opt/gateway/bin/pip install --no-cache-dir "$(ls /dist/*.whl)[tracing]"

FROM python:3.12-slim
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /var/lib/gateway --create-home gateway \
 && chmod 0700 /var/lib/gateway
COPY --from=build /opt/gateway /opt/gateway
ENV PATH=/opt/gateway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GATEWAY_DATA_DIR=/var/lib/gateway
USER gateway
WORKDIR /var/lib/gateway
VOLUME ["/var/lib/gateway"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["gateway", "serve", "--host", "0.0.0.0", "--port", "8000"]
