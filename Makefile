# FoleyStudio developer entry points. Every target creates the environment if it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: demo test test-slow lint run bench env clean train-default wheel installer

$(STAMP): pyproject.toml .ci/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c .ci/constraints.txt -e '.[dev]'
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m foleystudio demo

test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/lint-imports

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check foleystudio tests benchmarks
	$(BIN)/ruff format --check foleystudio tests benchmarks
	$(BIN)/lint-imports

run: $(STAMP)
	QT_QPA_PLATFORM= $(BIN)/foleystudio gui

bench: $(STAMP)
	$(BIN)/foleystudio bench all

# The wheel (carries the default model and the demo clip: setup.py) into dist/.
wheel: $(STAMP)
	$(BIN)/python -m pip wheel --no-deps -w dist .

# The one-folder desktop app with PyInstaller, then --version, doctor and a short generate
# from the built folder (installer/README.md; about 25 min on 2 cores; not part of `make test`).
installer: $(STAMP)
	nice -n 19 $(BIN)/python installer/build.py

clean:
	rm -rf $(VENV) build dist *.egg-info demo-output

# The bundled default model, reproducibly (about 2.5 h on a 2-core CPU; every stage resumes):
# FoleyWorld corpus -> CLIP encoder -> audio encoder -> feature cache + Flowley (16,000 steps)
# -> SSV2A -> visual onset network -> Flowley fine-tuned with the onset track -> fine-tuned to follow
# event tracks (--event-tracks) -> models/foleyworld-tiny. On a machine doing other work, run it
# with OMP_NUM_THREADS=1 (docs/decisions.md, "Training threads on a shared CPU").
FW_DATA ?= runs/fw-train
train-default: $(STAMP)
	$(BIN)/foleystudio data foleyworld --out $(FW_DATA) --clips 1600 --seed 2026 --jobs 2
	test -f runs/clip-tiny/clip.safetensors || $(BIN)/foleystudio train clip --data $(FW_DATA) --out runs/clip-tiny --steps 250 --batch 128 --resume
	test -f runs/audio-tiny/audio.safetensors || $(BIN)/foleystudio train audio --data $(FW_DATA) --clip runs/clip-tiny --out runs/audio-tiny --steps 1000 --batch 32 --resume
	$(BIN)/foleystudio train flowley --data $(FW_DATA) --clip runs/clip-tiny --audio runs/audio-tiny --out runs/flowley-tiny \
		--train-clips 800 --steps 16000 --resume
	$(BIN)/foleystudio train ssv2a --cache runs/flowley-tiny/cache.safetensors --out runs/ssv2a-tiny --resume
	test -d runs/onsets-tiny/bundle || $(BIN)/foleystudio train onsets --data $(FW_DATA) --out runs/onsets-tiny --steps 3000 --resume
	mkdir -p runs/flowley-onsets
	test -f runs/flowley-onsets/cache.json || cp runs/flowley-tiny/cache.safetensors runs/flowley-tiny/cache.json runs/flowley-onsets/
	$(BIN)/foleystudio train flowley --data $(FW_DATA) --clip runs/clip-tiny --audio runs/audio-tiny --out runs/flowley-onsets \
		--init runs/flowley-tiny --onsets runs/onsets-tiny --steps 6000 --lr 3e-4 --resume
	mkdir -p runs/flowley-events
	test -f runs/flowley-events/cache.json || cp runs/flowley-onsets/cache.safetensors runs/flowley-onsets/cache.json runs/flowley-events/
	$(BIN)/foleystudio train flowley --data $(FW_DATA) --clip runs/clip-tiny --audio runs/audio-tiny --out runs/flowley-events \
		--init runs/flowley-onsets --onsets runs/onsets-tiny --steps 2000 --lr 2e-4 --event-tracks 0.6 --resume \
		--ssv2a runs/ssv2a-tiny --bundle models/foleyworld-tiny --bundle-name foleyworld-tiny --bundle-version 1.1.0
