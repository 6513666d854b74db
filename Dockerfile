# syntax=docker/dockerfile:1
# Build: docker build -t triage .
# Run:   docker run -e KAFKA_BOOTSTRAP_SERVERS=kafka:9092 -p 8000:8000 triage

# The full image has gcc: the wheel compiles the native per-event code (setup.py, Cython).
# The runtime image below stays slim, non-root and compiler-free: it installs the wheels.
FROM python:3.11 AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md requirements.lock ./
COPY schemas ./schemas
COPY service ./service
# Dependencies at the versions pinned in requirements.lock (make lock / make audit).
RUN pip wheel --no-cache-dir --wheel-dir /wheels --constraint requirements.lock .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRIAGE_HTTP_PORT=8000
RUN groupadd --system --gid 10001 triage \
 && useradd --system --uid 10001 --gid triage --no-create-home --shell /usr/sbin/nologin triage
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TRIAGE_HTTP_PORT', '8000'), timeout=2)"]
# SIGTERM triggers a graceful shutdown bounded by TRIAGE_SHUTDOWN_TIMEOUT_SECONDS (10 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["triage"]
CMD ["run"]
