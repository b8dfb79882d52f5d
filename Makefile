# One command per job. Each installs what it needs on a fresh Debian machine (see README).
.PHONY: demo test release man completions bench

demo:         ## build, run the bundled crashing program under probe-exec, show its trace
	scripts/demo.sh

test:         ## the whole test suite (what CI runs)
	scripts/test.sh

release:      ## the fully static production binary, stripped: .build-static/dist/probe-exec (+ probe-exec.debug)
	scripts/build-release.sh

man:          ## the manual page, from the same help text: .build/man/probe-exec.1
	swift package --allow-writing-to-package-directory generate-manual
	mkdir -p .build/man && cp .build/plugins/GenerateManual/outputs/probe-exec/probe-exec.1 .build/man/

completions:  ## shell completion scripts: .build/completions/probe-exec.{bash,zsh,fish}
	swift build --product probe-exec
	mkdir -p .build/completions
	for shell in bash zsh fish; do .build/debug/probe-exec --generate-completion-script $$shell > .build/completions/probe-exec.$$shell; done

bench:        ## start-up, throughput and memory against bare exec and tini (scripts/bench.sh)
	scripts/bench.sh
