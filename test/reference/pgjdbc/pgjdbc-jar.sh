#!/usr/bin/env bash
# Prints the path of the PostgreSQL JDBC driver (pgjdbc) jar for test/postgres-wire.test.ts,
# fetched once by Maven (its default repository) into a cache folder:
# ${INGOT_CACHE_DIR:-$HOME/.cache/ingot}/pgjdbc.
set -euo pipefail
VERSION="${PGJDBC_VERSION:-42.7.14}"
CACHE="${INGOT_CACHE_DIR:-$HOME/.cache/ingot}/pgjdbc"
JAR="$CACHE/postgresql-$VERSION.jar"
if [ ! -s "$JAR" ]; then
  mkdir -p "$CACHE"
  # run outside any project folder so no pom.xml is picked up
  (cd "$CACHE" && mvn -q -B -Dstyle.color=never dependency:copy "-Dartifact=org.postgresql:postgresql:$VERSION" "-DoutputDirectory=$CACHE" >&2)
fi
echo "$JAR"
