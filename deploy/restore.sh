#!/bin/sh
# Restore a backup into a fresh, empty database and verify it (docs/deployment.md): the
# audit chains and sealed item history are checked (`tandem audit verify`), and the work
# items counted. Usage: restore.sh DUMP OWNER_URL_OF_THE_EMPTY_DATABASE APP_ROLE
set -eu
dump=${1:?"the backup file"}
url=${2:?"the empty database's URL, as the role that will own it"}
role=${3:?"the application role to grant the tables to"}
sha256sum --check "$dump.sha256"
pg_restore --no-owner --no-privileges --exit-on-error --enable-row-security --dbname="$url" "$dump"
psql --no-psqlrc --set=ON_ERROR_STOP=1 --dbname="$url" <<SQL
GRANT USAGE ON SCHEMA public TO "$role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "$role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "$role";
SQL
TANDEM_DATABASE_URL="$url" tandem audit verify
psql --no-psqlrc --tuples-only --dbname="$url" --command="SELECT count(*) AS work_items FROM work_items"
