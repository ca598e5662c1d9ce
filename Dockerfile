FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY monitor ./monitor
COPY .ci/install-runtime /tmp/install-runtime
# The install CI's wheel check proves (.ci/wheel-check): the wheel alone, with the runtime
# dependencies pinned and hash-checked by uv.lock.
RUN pip install --no-cache-dir uv==0.13.9 \
    && UV_NO_CACHE=1 /tmp/install-runtime python \
    && pip uninstall --yes uv && rm -rf /tmp/install-runtime /app/monitor /app/build /app/*.egg-info \
    && useradd --create-home --uid 1000 monitor \
    && mkdir -p /app/storage && chown monitor /app/storage
USER monitor
VOLUME ["/app/storage"]
# config/ is mounted read-only; its default storage URL points at ../storage (the volume).
ENTRYPOINT ["monitor", "--config", "/app/config/monitor.yaml"]
CMD ["run"]
