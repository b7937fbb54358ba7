# How `sam build` builds the Lambda functions (template.yaml: `BuildMethod: makefile`, built in
# place as samconfig.toml says): SAM runs `make build-<LogicalId>` once per function, with
# ARTIFACTS_DIR set. The first of them builds every function in one cargo run (the `lambda`
# profile of Cargo.toml: no LTO, so the 32 bootstraps link in seconds instead of a minute each;
# docs/src/getting-started/deploy.md); the others find that build up to date and copy their
# bootstrap.
#
#   sam build                           # or, without SAM: make functions
FUNCTIONS := $(notdir $(wildcard functions/*))
TARGET := $(or $(CARGO_TARGET_DIR),target)
BUILT := $(TARGET)/lambda/.stowage-built
# Whatever the bootstraps are built from (the console embeds web/console/dist).
SOURCES := Cargo.toml Cargo.lock $(wildcard .cargo/*) \
	$(shell find shared console functions web/console/dist -type f -not -name '*~')

.PHONY: functions
functions: $(BUILT)

$(BUILT): $(SOURCES)
	cargo lambda build --profile lambda --arm64 --locked $(addprefix -p ,$(FUNCTIONS))
	@touch $@

# build-CreateFileFunction copies target/lambda/create-file/bootstrap (a test holds every
# function's logical id to its crate's name this way).
build-%Function: $(BUILT)
	@binary=$$(echo '$*' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr 'A-Z' 'a-z'); \
	  cp "$(TARGET)/lambda/$$binary/bootstrap" "$(ARTIFACTS_DIR)/bootstrap"
