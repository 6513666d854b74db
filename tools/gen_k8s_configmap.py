"""Write deploy/k8s/configmap-rules.yaml from the shipped rule file and SLA policy.

``make k8s-config``. The ConfigMap is the site's rule file and policy: edit it for your
site, or regenerate it from the defaults with this script.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "rules.yaml": ROOT / "service" / "rules" / "default_rules.yaml",
    "sla-policy.yaml": ROOT / "service" / "sla" / "default_policy.yaml",
}
TARGET = ROOT / "deploy" / "k8s" / "configmap-rules.yaml"

HEADER = """\
# The rule file and the SLA policy triage loads (TRIAGE_RULES_PATH, TRIAGE_SLA_POLICY_PATH,
# mounted at /etc/triage by deployment.yaml). Seeded from the shipped defaults by
# `make k8s-config` (tools/gen_k8s_configmap.py); edit for your site and check a rule file
# with `triage rules check FILE`. A test checks this copy equals the shipped defaults.
apiVersion: v1
kind: ConfigMap
metadata:
  name: triage-rules
  labels:
    app.kubernetes.io/name: triage
data:
"""


def render() -> str:
    parts = [HEADER]
    for key, path in SOURCES.items():
        parts.append(f"  {key}: |\n")
        for line in path.read_text(encoding="utf-8").splitlines():
            parts.append(f"    {line}".rstrip() + "\n")
    return "".join(parts)


def main() -> int:
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
