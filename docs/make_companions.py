"""Write docs/companions.md from the companion modules' STUDY metadata (one home for that text):
python docs/make_companions.py > docs/companions.md
"""

import importlib

from sgd_spectra.companions import STUDIES

HEADER = """# Companion studies

Four related papers, one checkable study each. Every study is a module of `sgd_spectra.companions`
with the same interface (`STUDY`, `DEFAULT_PARAMS` / `TINY_PARAMS` / `PAPER_PARAMS`, `PRESETS`,
`PARAMS_SCHEMA`, `run_study(params)`, `study_claims(tables, params)`); the rule `companion_study` runs
it and its claims join the report. The config's `companions.<study>` picks one of its `PRESETS` by
name and may override single parameters, e.g. `gradient_span: {preset: paper, grf_seeds: 10}`. The text below is the modules' own `STUDY` metadata: edit it there, not here
(`python docs/make_companions.py > docs/companions.md` rewrites this file).
"""

parts = [HEADER]
for name in STUDIES:
    st = importlib.import_module(f"sgd_spectra.companions.{name}").STUDY
    parts += [
        f"## `{name}` (seed {st['seed']}): {st['title']}",
        f"*Paper:* {st['paper']}",
        f"**The paper's claim.** {st['claim']}",
        f"**What the study shows.** {st['caption']}",
        f"**What could not be recovered, and what was done instead.** {st['deviations']}",
    ]
print("\n\n".join(parts))
