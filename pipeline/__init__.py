"""Big Mart SageMaker pipeline on AWS Step Functions, deployable by CI/CD and runnable offline."""

__version__ = "0.1.0"
