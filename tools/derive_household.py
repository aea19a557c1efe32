"""Derive Household's grounded world (llm_gym/data/household_alfworld.json) from ALFWorld's own tables.

ALFWorld's PyPI package carries the tables its task generator uses: ``alfworld/gen/constants.py``
(object and receptacle classes, ``VAL_RECEPTACLE_OBJECTS``: which objects each receptacle can
hold, ``VAL_ACTION_OBJECTS``: what can be cleaned, heated, cooled, sliced, toggled, and
``OPENABLE_CLASS_LIST``). Fetch it without installing it, then run this script on the unpacked wheel:

    pip download alfworld==0.4.2 --no-deps -d /tmp/alfworld
    cd /tmp/alfworld && unzip -q alfworld-0.4.2-py3-none-any.whl
    python tools/derive_household.py /tmp/alfworld

What is derived: the 29 static receptacles and what each holds (sliced objects counted as their
whole object, so the toaster holds bread), the 56 objects they hold, each object's affordances,
which receptacles open, and which appliance cleans, heats or cools (ALFWorld's PDDL: the sink
basin, the microwave, the fridge). Written by hand here, as ALFWorld's tables do not state it:
where each of its two lamps stands.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

VERSION = "0.4.2"
OUT = Path(__file__).resolve().parent.parent / "llm_gym" / "data" / "household_alfworld.json"
APPLIANCES = {"SinkBasin": "cleaned", "Microwave": "heated", "Fridge": "cooled"}  # ALFWorld's PDDL stations
AFFORDANCES = {"Cleanable": "cleaned", "Heatable": "heated", "Coolable": "cooled", "Sliceable": "sliced"}
LIGHT_PLACES = {  # by hand: a desk lamp stands on a desk, side table, dresser or shelf; a floor lamp beside seats and beds
    "desklamp": ["desk", "dresser", "shelf", "sidetable"],
    "floorlamp": ["armchair", "bed", "desk", "dresser", "sidetable", "sofa"],
}


def constants(wheel: Path) -> dict:
    namespace: dict = {}
    source = (wheel / "alfworld" / "gen" / "constants.py").read_text()
    exec(compile(source, "constants.py", "exec"), namespace)  # ALFWorld's own table module, read as data
    return namespace


def derive(wheel: Path) -> dict:
    table = constants(wheel)
    parent, movable = table["OBJ_PARENTS"], set(table["MOVABLE_RECEPTACLES"])
    holds = {
        receptacle: sorted({parent.get(obj, obj) for obj in objects})
        for receptacle, objects in table["VAL_RECEPTACLE_OBJECTS"].items()
        if receptacle not in movable
    }
    objects = sorted({obj for contents in holds.values() for obj in contents})
    affordances = {
        word: {parent.get(obj, obj) for obj in table["VAL_ACTION_OBJECTS"][name]} for name, word in AFFORDANCES.items()
    }
    openable = set(table["OPENABLE_CLASS_LIST"])
    receptacles = {
        name.lower(): {
            "holds": [obj.lower() for obj in contents],
            "opens": name in openable,
            "treats": APPLIANCES.get(name),
        }
        for name, contents in sorted(holds.items(), key=lambda item: item[0].lower())
    }
    return {
        "source": f"alfworld {VERSION} (PyPI), alfworld/gen/constants.py",
        "derived_by": "tools/derive_household.py",
        "by_hand": "lights: where each lamp stands",
        "receptacles": receptacles,
        "objects": {
            obj.lower(): sorted(word for word, members in affordances.items() if obj in members) for obj in objects
        },
        "lights": LIGHT_PLACES,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="the unpacked alfworld wheel (the folder holding alfworld/)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    world = derive(args.wheel)
    args.out.write_text(json.dumps(world, indent=1) + "\n")
    counts = {key: len(world[key]) for key in ("receptacles", "objects", "lights")}
    print(f"wrote {args.out}: {counts}")


if __name__ == "__main__":
    main()
