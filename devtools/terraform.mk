# Terraform targets, included by the top-level Makefile (`-include devtools/terraform.mk`).
# Needs: ENV (dev|prod), PY and setup from the Makefile; `deploy`/`destroy` also need terraform,
# docker and the AWS CLI v2 with credentials for the target account.

TF_DIR = terraform/environments/$(ENV)
TF_VARS = -var-file=terraform.tfvars -var image_tag=$(IMAGE_TAG)
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD)
TF_REGION = $(shell sed -n 's/^region *= *"\(.*\)"/\1/p' $(TF_DIR)/terraform.tfvars)
TF_ACCOUNT = $(shell aws sts get-caller-identity --query Account --output text)
TF_STATE_BUCKET ?= acso-tfstate-$(TF_ACCOUNT)-$(TF_REGION)
# The tasks run on X86_64 Fargate (compute module: runtime_platform.cpu_architecture); images are
# built for it whatever the builder's own architecture (an arm64 image dies with "exec format error").
IMAGE_PLATFORM ?= linux/amd64

.PHONY: tf-check checkov deploy destroy tf-state-bucket tf-init

tf-check: setup ## Terraform static checks: parse, references, provider schema, manifest, checkov (+ fmt/validate if terraform is installed)
	$(PY) -m devtools.terraform_check

checkov: setup ## checkov over terraform/ (in its own .venv-checkov)
	$(PY) -m devtools.terraform_check --checkov-only

tf-state-bucket: ## Create the remote-state bucket (versioned, encrypted, private) if it does not exist
	@test -d $(TF_DIR) || { echo "no environment $(ENV) (terraform/environments/$(ENV))"; exit 1; }
	@aws s3api head-bucket --bucket $(TF_STATE_BUCKET) 2>/dev/null || { \
	  echo "creating state bucket $(TF_STATE_BUCKET)"; \
	  if [ "$(TF_REGION)" = "us-east-1" ]; then aws s3api create-bucket --bucket $(TF_STATE_BUCKET) --region $(TF_REGION); \
	  else aws s3api create-bucket --bucket $(TF_STATE_BUCKET) --region $(TF_REGION) --create-bucket-configuration LocationConstraint=$(TF_REGION); fi && \
	  aws s3api put-public-access-block --bucket $(TF_STATE_BUCKET) --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true && \
	  aws s3api put-bucket-versioning --bucket $(TF_STATE_BUCKET) --versioning-configuration Status=Enabled && \
	  aws s3api put-bucket-encryption --bucket $(TF_STATE_BUCKET) --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms"},"BucketKeyEnabled":true}]}'; }

tf-init: tf-state-bucket
	terraform -chdir=$(TF_DIR) init -input=false -reconfigure \
	  -backend-config=bucket=$(TF_STATE_BUCKET) -backend-config=region=$(TF_REGION)

deploy: setup lambdas tf-init ## Build and push the service images to ECR, then terraform plan/apply (ENV=dev|prod)
	@for tool in terraform docker aws; do command -v $$tool >/dev/null || { echo "$$tool is required"; exit 1; }; done
	@git diff --quiet HEAD -- services shared || echo "warning: uncommitted changes in services/ or shared/ are built into $(IMAGE_TAG)"
	@: 1. The ECR repositories (and the KMS key they use) first, so there is somewhere to push.
	terraform -chdir=$(TF_DIR) apply -input=false -auto-approve $(TF_VARS) -target=module.compute.aws_ecr_repository.this
	@: 2. Build and push one image per service, tagged with the commit (tags are immutable).
	terraform -chdir=$(TF_DIR) show -json > $(TF_DIR)/.state.json
	$(PY) -m devtools.terraform_check.deploy ecr-urls < $(TF_DIR)/.state.json > $(TF_DIR)/.ecr-urls
	@rm -f $(TF_DIR)/.state.json
	aws ecr get-login-password --region $(TF_REGION) | docker login --username AWS --password-stdin $(TF_ACCOUNT).dkr.ecr.$(TF_REGION).amazonaws.com
	@while read -r agent url; do \
	  if aws ecr describe-images --region $(TF_REGION) --repository-name "$${url#*/}" --image-ids imageTag=$(IMAGE_TAG) >/dev/null 2>&1; then \
	    echo "$$agent: $$url:$(IMAGE_TAG) already pushed"; continue; fi; \
	  docker build --platform $(IMAGE_PLATFORM) -f services/$$agent/Dockerfile -t "$$url:$(IMAGE_TAG)" . && docker push "$$url:$(IMAGE_TAG)" || exit 1; \
	done < $(TF_DIR)/.ecr-urls
	@: 3. Everything else, running the images just pushed.
	terraform -chdir=$(TF_DIR) plan -input=false $(TF_VARS) -out=tfplan
	terraform -chdir=$(TF_DIR) apply -input=false tfplan
	@rm -f $(TF_DIR)/tfplan $(TF_DIR)/.ecr-urls

destroy: setup lambdas tf-init ## Destroy the ENV stack (prod: apply deletion_protection = false first)
	terraform -chdir=$(TF_DIR) destroy -input=false $(TF_VARS)
