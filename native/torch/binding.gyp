{
  "targets": [
    {
      "target_name": "polynas_torch",
      "sources": [
        "src/addon.cc",
        "src/gate.cc",
        "src/norm.cc",
        "src/optim.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"require('./scripts/libtorch.cjs').include.join(' ')\")"
      ],
      "libraries": [
        "<!@(node -p \"require('./scripts/libtorch.cjs').libs.join(' ')\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "_GLIBCXX_USE_CXX11_ABI=1"
      ],
      "cflags!": [
        "-fno-exceptions"
      ],
      "cflags_cc!": [
        "-fno-exceptions",
        "-fno-rtti",
        "-std=gnu++17"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-fexceptions",
        "-frtti",
        "-O3",
        "-fopenmp",
        "-ffp-contract=off",
        "-fno-math-errno",
        "-Wno-unused-parameter",
        "-Wno-deprecated-declarations"
      ]
    }
  ]
}
