terraform {
  # use_lockfile (S3-native state locking) needs Terraform 1.10; the modules need 1.6.
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.25"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }

  # Partial configuration: `make deploy` creates the state bucket (versioned, encrypted, private)
  # if needed and passes bucket and region with -backend-config.
  backend "s3" {
    key          = "acso/dev/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "acso"
      Environment = var.env
      ManagedBy   = "terraform"
    }
  }
}
