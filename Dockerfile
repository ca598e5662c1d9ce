FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install --no-cache-dir . && useradd --create-home --uid 1000 monitor \
    && mkdir -p /app/storage && chown monitor /app/storage
USER monitor
VOLUME ["/app/storage"]
# config/ is mounted read-only; its default storage URL points at ../storage (the volume).
ENTRYPOINT ["monitor", "--config", "/app/config/monitor.yaml"]
CMD ["run"]
