"""The cases of the bad-input sweep (see ``bad_inputs.py``): command lines run on the user
folder that ``bad_input_folder.make_user_folder`` writes.

In each line ``{U}`` is the user folder, ``{C}`` the case's own working folder (outputs land
there) and ``{E}`` a copy of the user's embeddings folder inside ``{C}``, for commands that
write into it; ``{QUICK}``, ``{TINY}``, ``{RUN}``... are the shorthands below.
"""

from __future__ import annotations

import shlex

from bad_input_folder import QUICK, TINY

RUN, TEXT_RUN, IMG = "{U}/runs/train/r", "{U}/runs/text/t", "{U}/noclass/a.png"
BAD_IMG, BOMB = "{U}/corrupt/train/red/truncated.png", "{U}/bomb/train/red/bomb.png"

TRAIN = [
    "train {U}/missing {QUICK}",
    "train {U}/empty {QUICK}",
    "train {U}/noclass {QUICK}",
    "train {U}/oneclass {QUICK}",
    "train {U}/mismatch {QUICK}",
    "train {U}/nonimage {QUICK}",
    "train {U}/valonly {QUICK}",
    "train {U}/corrupt {QUICK}",
    "train {U}/bomb {QUICK}",
    "train {U}/afile.png {QUICK}",
    "train {U}/corrupt {QUICK} --skip-bad",
    "train {U}/bomb {QUICK} --skip-bad",
    "train {U}/modes {QUICK}",
    "train '{U}/<img src=x onerror=alert(1)>' {QUICK}",
    "train {U}/d {QUICK} --weights {U}/evil.pth",
    "train {U}/d {QUICK} --weights {U}/random.safetensors",
    "train {U}/d {QUICK} --weights {U}/wrong_shapes.pth",
    "train {U}/d {QUICK} --weights {U}/missing.pth",
    "train {U}/d --backbone no_such_net",
    "train {U}/d --backbone resnet18",
    "train {U}/d --backbone torchvision:nope",
    "train {U}/d {QUICK} --classes red,purple",
    "train {U}/d {QUICK} --classes red",
    "train {U}/d --config {U}/c_invalid.yaml",
    "train {U}/d --config {U}/c_list.yaml",
    "train {U}/d --config {U}/c_unknown.yaml",
    "train {U}/d --config {U}/c_type.yaml",
    "train {U}/d --config {U}/c_neg.yaml",
    "train {U}/d --config {U}/c_nested.yaml",
    "train {U}/d --config {U}/c_bool.yaml",
    "train {U}/d --config {U}/c_null.yaml",
    "train {U}/d --config {U}/c_binary.yaml",
    "train {U}/d --config {U}/c_missing.yaml",
    "train",
    "train --resume {U}/missing",
    "train --resume {U}/d",
    "train {U}/d {QUICK} --out {U}/notes.txt",
    "train {U}/d {QUICK} --out /proc/headstart-runs",
    "train {U}/d {QUICK} --device cuda",
    "train {U}/d {QUICK} --device cuda:7",
    "train {U}/d {QUICK} --cache-dir {U}/notes.txt --strategy feature-extraction",
    "train {U}/d {QUICK} --name ../../escape",
    "train {U}/d {QUICK} --strategy partial:99",
    "train {U}/d {QUICK} --strategy full --lr 1 --head-lr 1",
    "train {U}/d/train {QUICK} --val-fraction 0.9",
]
CHECKPOINTS = [
    "evaluate '{RUN}' {U}/mismatch",
    "evaluate {U}/missing {U}/d",
    "evaluate {U}/d {U}/d",
    "evaluate {U}/broken_run {U}/d",
    "evaluate {U}/truncated_run {U}/d",
    "evaluate {U}/random.safetensors {U}/d",
    "evaluate '{RUN}' {U}/corrupt",
    "evaluate '{RUN}' {U}/empty",
    "evaluate '{RUN}' {U}/d --split test",
    "predict '{RUN}' {U}/missing.png",
    "predict '{RUN}' '{IMG}'",
    "predict '{RUN}' '{BAD_IMG}'",
    "predict '{RUN}' '{BOMB}'",
    "predict '{RUN}' {U}/empty",
    "predict '{RUN}' {U}/notes.txt",
    "predict {U}/broken_run '{IMG}'",
    "predict {U}/nobackbone_run '{IMG}'",
    "evaluate {U}/nobackbone_run {U}/d",
    "predict '{RUN}' {U}/t.csv",
]
ANALYSE = [
    "compare {U}/missing",
    "compare {U}/d --strategies ,,",
    "compare {U}/oneclass {TINY}",
    "compare {U}/d {TINY} --strategies feature-extraction --epochs 1",
    "recommend {U}/missing",
    "recommend {U}/empty",
    "recommend {U}/corrupt {TINY}",
    "doctor {U}/missing",
    "doctor {U}/corrupt {TINY}",
    "doctor {U}/d {TINY} --checkpoint {U}/missing",
    "doctor {U}/mismatch {TINY} --checkpoint '{RUN}'",
    "doctor {U}/d {TINY} --checkpoint {U}/broken_run",
]
EMBEDDINGS = [
    "embed {U}/missing {TINY}",
    "embed {U}/empty {TINY}",
    "embed {U}/corrupt {TINY}",
    "embed {U}/corrupt {TINY} --skip-bad",
    "embed {U}/d --backbone {U}/missing_run",
    "embed {U}/d --backbone pixels:0",
    "embed {U}/d --backbone pixels:abc",
    "embed {U}/d --backbone conse:nope",
    "embed {U}/d --backbone 'clip:{U}/missing'",
    "embed {U}/d --backbone 'clip:{U}/evil_model'",
    "embed {U}/d --backbone {U}/broken_run",
    "embed {U}/afile.png {TINY}",
    "embed {U}/d {TINY} --split test",
    "map {U}/missing",
    "map {U}/d",
    "map {E} --method umap",
    "map {E} --method tsne --max-points 3",
    "index {U}/missing",
    "index {U}/d",
    "index {E}/index --add {U}/missing.png",
    "index {E}/index --add '{BAD_IMG}'",
    "index {E} --kind hnsw --m 2",
    "index {E}/index --check --k 1000",
    "search {U}/emb/index {U}/missing.png",
    "search {U}/emb/index",
    "search {U}/emb/index --text 'a cat'",
    "search {U}/emb '{IMG}'",
    "search {U}/emb/index '{IMG}' --k 1000",
    "search {U}/emb/index '{BAD_IMG}'",
    "probe {U}/missing",
    "probe {E} --holdout split",
    "probe {E} --k 1000",
]
FEWSHOT = [
    "fewshot {U}/missing '{IMG}'",
    "fewshot {U}/d/train {U}/missing.png {TINY}",
    "fewshot {U}/oneclass/train '{IMG}' {TINY}",
    "fewshot {U}/empty '{IMG}' {TINY}",
    "fewshot eval {U}/oneclass --backbone pixels:8",
    "fewshot eval {U}/d --ways 10 --backbone pixels:8",
    "fewshot eval {U}/d --classes red,nope --backbone pixels:8",
    "fewshot train {U}/d {TINY} --ways 5 --no-progress",
    "fewshot train {U}/missing",
    "fewshot",
    "fewshot train {U}/d --method magic",
    "verify '{IMG}' '{IMG}' --model '{RUN}'",
    "verify {U}/missing.png '{IMG}' --model '{RUN}'",
    "verify '{IMG}' '{IMG}' --model {U}/missing",
]
ZEROSHOT = [
    "zeroshot '{IMG}' --labels ''",
    "zeroshot '{IMG}' --labels ,,,",
    "zeroshot '{IMG}' --labels a,b --template 'no placeholder'",
    "zeroshot '{IMG}' --labels a,b --template '{} and {}'",
    "zeroshot '{IMG}' --labels a,b --model 'clip:{U}/missing'",
    "zeroshot '{IMG}' --labels a,b --model 'clip:{U}/evil_model'",
    "zeroshot {U}/missing.png --labels a,b",
    "zeroshot '{BAD_IMG}' --labels a,b",
    "zeroshot '{IMG}' --labels a --model magic",
    "zeroshot '{IMG}' --labels a,a --model conse:tf_efficientnet_lite0",
]
ADAPT = [
    "adapt",
    "adapt --source {U}/missing --target {U}/d",
    "adapt --source {U}/d --target {U}/missing",
    "adapt --source {U}/d --target {U}/empty {TINY}",
    "adapt --source {U}/oneclass --target {U}/d {TINY}",
    "adapt --source {U}/d --target {U}/corrupt {TINY}",
    "adapt --source {U}/d --target {U}/d --target-val {U}/mismatch {TINY}",
    "adapt --source {U}/d --target {U}/noclass {TINY} --epochs 1 --no-progress",
]
TEXT = [
    "text train {U}/missing.csv --strategy frozen --epochs 1",
    "text train {U}/t_nolabel.csv --strategy frozen --epochs 1",
    "text train {U}/t_empty.csv --strategy frozen --epochs 1",
    "text train {U}/t_header.csv --strategy frozen --epochs 1",
    "text train {U}/t_one.csv --strategy frozen --epochs 1",
    "text train {U}/t_latin1.csv --strategy frozen --epochs 1",
    "text train {U}/t.jsonl --strategy frozen --epochs 1",
    "text train {U}/t_ragged.csv --strategy frozen --epochs 1",
    "text train {U}/t.txt --strategy frozen --epochs 1",
    "text train {U}/d --strategy frozen --epochs 1",
    "text train {U}/t.csv --model {U}/missing_model",
    "text train {U}/t.csv --model {U}/evil_model",
    "text train {U}/t.csv --model {U}/d",
    "text train {U}/t.csv --model bert-base-uncased",
    "text train {U}/t.csv --text-col nope",
    "text train {U}/t.csv --val {U}/missing.csv",
    "text train {U}/t.csv --val {U}/t_nolabel.csv",
    "text train {U}/t.csv --strategy lora --target-modules nope --epochs 1",
    "text train {U}/t_html.csv --strategy frozen --epochs 1 --no-progress",
    "text train {U}/t.csv --config {U}/c_invalid.yaml",
    "text train {U}/t.csv --max-length 100000 --strategy frozen --epochs 1",
    "text compare {U}/t.csv --strategies frozen,magic",
    "text compare {U}/t.csv --resume {U}/missing",
    "text predict '{TEXT_RUN}'",
    "text predict '{TEXT_RUN}' --file {U}/missing.txt",
    "text predict '{TEXT_RUN}' --file {U}/c_binary.yaml",
    "text predict '{RUN}' hello",
    "text predict {U}/missing hello",
]
DEPLOY = [
    "export {U}/missing",
    "export {U}/random.safetensors",
    "export {RUN} --out {U}/mydata --force",
    "export {RUN} --out {U}/notes.txt",
    "export {RUN} --quantize int8 --format torchscript",
    "export {RUN} --data {U}/mismatch --out {C}/ex",
    "export {RUN} --data {U}/corrupt --out {C}/ex",
    "export {RUN} --out {C}/ex",
    "text export {RUN}",
    "export {TEXT_RUN} --data {U}/d --out {C}/ex",
    "serve {U}/missing",
    "serve {U}/d",
    "serve {RUN} --port 70000",
    "serve {U}/broken_run",
]
DATASETS = [
    "datasets export nope {C}/x",
    "datasets export digits {U}/mydata",
    "datasets export digits {U}/mydata --force",
    "datasets export digits {U}/notes.txt",
    "datasets export rotten-tomatoes {U}/notes.txt --force",
    "datasets export rotten-tomatoes {U}/t.csv --force",
    "datasets export digits {C}/dg --train-per-class 1000",
    "datasets export rotten-tomatoes {C}/rt.csv --train 100000",
    "datasets export digits {C}/dg --train-per-class 1 --val-per-class 1",
    "datasets export lfw-faces {C}/lf --train-per-class 90 --val-per-class 20",
    "demo --data {U}/mydata",
    "demo --data {U}/notes.txt",
    "demo --data {C}/x --train-per-class 100000",
    "",
    "nosuch",
    "backbones --bogus",
]
SHORTHANDS = {
    "{QUICK}": shlex.join(QUICK),
    "{TINY}": shlex.join(TINY),
    "{RUN}": RUN,
    "{TEXT_RUN}": TEXT_RUN,
    "{BAD_IMG}": BAD_IMG,
    "{BOMB}": BOMB,
    "{IMG}": IMG,
}


def _argv(line: str) -> list[str]:
    for short, long in SHORTHANDS.items():
        line = line.replace(short, long)
    return shlex.split(line)


CASES = [
    _argv(line)
    for group in (
        TRAIN,
        CHECKPOINTS,
        ANALYSE,
        EMBEDDINGS,
        FEWSHOT,
        ZEROSHOT,
        ADAPT,
        TEXT,
        DEPLOY,
        DATASETS,
    )
    for line in group
]
