#!/bin/sh
# Install this FoleyStudio folder for the current user: the program goes to
# ~/.local/opt/foleystudio, a `foleystudio` link to ~/.local/bin, the menu entry and icon to
# ~/.local/share. Run it from the unpacked tarball. Remove with: install.sh --uninstall
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
opt=$HOME/.local/opt/foleystudio
bin=$HOME/.local/bin
if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$opt" "$bin/foleystudio" "$data/applications/foleystudio.desktop" \
    "$data/icons/hicolor/scalable/apps/foleystudio.svg" "$data/icons/hicolor/256x256/apps/foleystudio.png"
  echo "FoleyStudio removed (your models in $data/foleystudio are kept)"
  exit 0
fi
mkdir -p "$opt" "$bin" "$data/applications" "$data/icons/hicolor/scalable/apps" "$data/icons/hicolor/256x256/apps"
rm -rf "$opt.new" && cp -a "$here/foleystudio" "$opt.new" && rm -rf "$opt" && mv "$opt.new" "$opt"
ln -sf "$opt/foleystudio" "$bin/foleystudio"
sed "s|^Exec=foleystudio|Exec=$opt/foleystudio|" "$here/foleystudio.desktop" > "$data/applications/foleystudio.desktop"
cp "$here/foleystudio.svg" "$data/icons/hicolor/scalable/apps/foleystudio.svg"
[ -f "$here/foleystudio.png" ] && cp "$here/foleystudio.png" "$data/icons/hicolor/256x256/apps/foleystudio.png"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$data/applications" || true
echo "FoleyStudio installed in $opt; run 'foleystudio doctor' to check it"
