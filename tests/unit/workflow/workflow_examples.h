// The example workflows of issue 18, written as GitHub's starter workflows show them, with
// `actions/setup-node` (outside corral's subset) replaced by a run step.
#pragma once

namespace corral::workflow::examples {

// GitHub's "Node.js CI" starter workflow.
inline constexpr const char* kNodeCi = R"(name: Node.js CI

on:
  push:
    branches: [ "main" ]
  pull_request:
    branches: [ "main" ]

jobs:
  build:

    runs-on: [self-hosted, linux]

    strategy:
      matrix:
        node-version: [14.x, 16.x, 18.x]
        # See supported Node.js release schedule at https://nodejs.org/en/about/releases/

    steps:
    - uses: actions/checkout@v3
    - name: Use Node.js ${{ matrix.node-version }}
      run: node --version
    - run: npm ci
    - run: npm run build --if-present
    - run: npm test
)";

// GitHub's "Docker image" starter workflow.
inline constexpr const char* kDockerImage = R"(name: Docker Image CI

on:
  push:
    branches: [ "main" ]
  pull_request:
    branches: [ "main" ]

jobs:

  build:

    runs-on: [self-hosted, linux]

    steps:
    - uses: actions/checkout@v3
    - name: Build the Docker image
      run: docker build . --file Dockerfile --tag my-image-name:$(date +%s)
)";

}  // namespace corral::workflow::examples
