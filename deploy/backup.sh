#!/bin/sh
# A consistent backup of Tandem's database (docs/deployment.md): pg_dump's custom format,
# taken in one snapshot while the floor works. It holds personal data only sealed: it opens
# with the master key (TANDEM_MASTER_KEY, and TANDEM_PREVIOUS_MASTER_KEYS during a change),
# which is kept apart from the backups, on purpose. Usage: backup.sh OWNER_URL DIRECTORY
set -eu
url=${1:?"the database's URL, as its owner role"}
dir=${2:?"the directory to write the backup to"}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
file="$dir/tandem-$stamp.dump"
mkdir -p "$dir"
# Row-level security is forced on the tenant tables, for their owner too: the owner, with no
# client named, sees every row, and pg_dump must be told that reading under it is intended.
pg_dump --format=custom --no-owner --no-privileges --enable-row-security --file="$file.part" "$url"
mv "$file.part" "$file"
sha256sum "$file" > "$file.sha256"
echo "$file"
