#!/usr/bin/env bash
# End-to-end timings of the release binary on 10,000 generated campaign files:
#   bash benches/cli.sh
# Prints wall time and peak memory (GNU time); asserts nothing (shared machines are noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="$PWD/target/release/crier"
repo="$(mktemp -d)"
trap 'rm -rf "$repo"' EXIT
mkdir -p "$repo/campaigns"
printf 'project: bench\napps:\n  prod:\n    sdkappid: 1400000000\n    region: singapore\n    admin: admin\n    secret_key_env: K\n    attributes: [level, city]\n' > "$repo/crier.yaml"
python3 - "$repo" <<'PY'
import sys
root = sys.argv[1]
for i in range(10000):
    aud = ["audience: {all: true}",
           f"audience:\n  tags:\n    any: [t{i%50}, t{(i+1)%50}]\n    none: [churned]",
           "audience:\n  attrs:\n    all: {level: Gold, city: Shenzhen}"][i % 3]
    sch = (f'schedule: {{cron: "{i%60} {8+i%12} * * *", grace: 30m}}' if i % 2 == 0
           else f'schedule: {{at: "2026-12-{1+i%28:02d}T{8+i%12:02d}:{i%60:02d}:00"}}')
    with open(f"{root}/campaigns/c{i:05d}.yaml", "w") as f:
        f.write(f'version: 1\nname: c{i}\n{aud}\n{sch}\nvars: {{discount: {i%90}}}\nmessage:\n'
                f'  lifetime: 1d\n  body:\n    - text: "{{{{ discount }}}}% off on {{{{ occurrence.date }}}}"\n'
                f'  offline_push:\n    title: Sale\n    ext: {{deeplink: "app://sale/{i}"}}\n')
PY
cd "$repo"
for run in 1 2 3; do
  /usr/bin/time -f "validate 10,000 files: %e s wall, %M KB max RSS" "$bin" validate > /dev/null
done
for run in 1 2; do
  /usr/bin/time -f "plan 10,000 campaigns (7d, JSON): %e s wall, %M KB max RSS" "$bin" plan --at 2026-12-01T00:00:00Z --format json > /dev/null || true
done
