#!/usr/bin/env bash
# make up: berth on this machine, syncing a git repository made from
# examples-repo/. The repository lives in DATA_DIR/repo: edit and commit
# there, and berth deploys the commit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/berth}
DATA_DIR=${DATA_DIR:-$PWD/.berth}
repo="$DATA_DIR/repo"

if [ ! -d "$repo/.git" ]; then
  echo "up: creating the git repository $repo from examples-repo/"
  mkdir -p "$repo"
  cp -r examples-repo/. "$repo/"
  git -C "$repo" init -q -b main
  git -C "$repo" add -A
  git -C "$repo" -c user.name="${GIT_AUTHOR_NAME:-berth}" -c user.email="${GIT_AUTHOR_EMAIL:-berth@localhost}" \
    commit -q -m "examples-repo: the demo apps"
else
  echo "up: reusing the git repository $repo"
fi

agent=()
if [ "$(id -u)" -eq 0 ]; then
  # The agent imports the image tarballs it finds here when it starts.
  mkdir -p "$DATA_DIR/agent/images"
  cp bin/images/*.tar "$DATA_DIR/agent/images/"
else
  echo "up: not root, so no node agent runs pods here (--disable-agent); the control plane and gitsync still run"
  agent=(--disable-agent)
fi

cat <<MSG
up: starting berth. In another terminal:
  export BERTH_DATA_DIR=$DATA_DIR PATH=$PWD/bin:\$PATH
  berth sync status                     # the GitSource kube-system/repo, its commit and health
  berth kubectl get pods -A -o wide
  cd $repo && sed -i 's/replicas: 2/replicas: 3/' apps/hello/deployment.yaml && git commit -qam "hello: 3 replicas"
  berth sync wait kube-system/repo      # returns when that commit is applied and healthy
MSG
exec "$BIN" server --data-dir "$DATA_DIR" --repo "$repo" "${agent[@]}"
