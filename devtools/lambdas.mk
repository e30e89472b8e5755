# Lambda deployment packages (included by the Makefile). `make lambdas` builds lambdas/dist/<name>.zip,
# the files Terraform's lambdas module uploads. LAMBDA_PLATFORMS are pip's platform tags of the target
# architecture (manylinux2014_aarch64 manylinux_2_28_aarch64 for arm64 functions); LAMBDA_PYTHON is
# the runtime's Python version.
LAMBDA_PLATFORMS ?= manylinux2014_x86_64 manylinux_2_28_x86_64
LAMBDA_PYTHON ?= 3.11
LAMBDA_FUNCTIONS ?= auth notification data_processing

.PHONY: lambdas lambdas-clean

lambdas: setup ## Build the Lambda zips (lambdas/dist/<name>.zip) for LAMBDA_PLATFORMS
	$(PY) devtools/package_lambda.py $(LAMBDA_FUNCTIONS) $(foreach p,$(LAMBDA_PLATFORMS),--platform $(p)) \
		--python-version $(LAMBDA_PYTHON)

lambdas-clean: ## Remove the Lambda build directories and zips
	rm -rf lambdas/build lambdas/dist
