#!/bin/bash
# pytest -m cuda at b0254f4 (02acd06's product code), the part of call 4's acceptance run its time limit cut off.
OUT=$1
{ date +%T; timeout 240 python3 -m pytest -m cuda -q -p no:cacheprovider 2>&1 | tail -30; date +%T; } > $OUT/call5_log.txt 2>&1
