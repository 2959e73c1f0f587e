FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv/huren

COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
RUN pip install . && useradd --system --uid 10001 --home-dir /srv/huren huren \
    && mkdir -p /srv/huren/var && chown huren /srv/huren/var

USER huren
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
ENTRYPOINT ["huren", "serve", "--host", "0.0.0.0", "--port", "8000"]
