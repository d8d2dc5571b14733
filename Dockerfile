# syntax=docker/dockerfile:1
# Production image: gunicorn serves the portal, WhiteNoise serves static files.
# The same image runs the Celery worker and beat (see docker-compose.yml).
#
#   docker build -t itsm-portal .
#   docker run --rm -e SECRET_KEY=... -e ALLOWED_HOSTS=... -e DATABASE_URL=... -e REDIS_URL=... -p 8000:8000 itsm-portal

# ---- Stage 1: front-end assets from npm, copied to static/vendor/ (no CDN) --------------
FROM node:20-slim AS assets
WORKDIR /src
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY Makefile ./
# Same copy step as `make assets` (which also runs npm ci when needed).
RUN make vendor-copy

# ---- Stage 2: the application ------------------------------------------------------------
FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ITSM_PRODUCTION=1 \
    PYTHONPATH=/app
WORKDIR /app

# pg_dump / pg_restore for the portal's own backups (backups app, `manage.py restore_backup`).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 itsm \
 && useradd --system --uid 10001 --gid itsm --home-dir /app --shell /usr/sbin/nologin itsm

# Runtime dependencies first: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The project itself (compiled .mo catalogs are committed: no gettext needed here).
# PYTHONPATH=/app makes every process (gunicorn, celery, manage.py) import the code from
# /app, next to templates/, static/ and locale/, rather than the installed copy.
COPY . .
RUN pip install --no-deps . \
 && rm -rf build ./*.egg-info
COPY --from=assets /src/static/vendor ./static/vendor

# Hashed + compressed static files for WhiteNoise (ITSM_PRODUCTION=1 selects the manifest
# storage). The SECRET_KEY here exists only for this build step; set the real one at run time.
RUN SECRET_KEY=collectstatic-build-only python manage.py collectstatic --noinput \
 && mkdir -p var/broker/queue var/broker/processed var/broker/control var/backups var/media \
 && chown -R itsm:itsm var

USER itsm
EXPOSE 8000
CMD ["gunicorn", "itsm.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
