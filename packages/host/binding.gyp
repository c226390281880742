{
  "targets": [
    {
      "target_name": "kvm_host",
      "sources": [
        "native/addon.cc",
        "native/errno-error.cc",
        "native/device.cc",
        "native/mapping.cc",
        "native/kick.cc",
        "native/tap.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=gnu++17", "-fno-exceptions", "-Wall", "-Wextra"]
    }
  ]
}
