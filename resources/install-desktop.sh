#!/usr/bin/env bash
# Install GAN Studio's menu entry and icon for the current user (no root needed).
#
#   resources/install-desktop.sh [--default] [PATH/TO/gan-studio]
#   resources/install-desktop.sh --uninstall
#
# PATH defaults to the bundle (dist/gan-studio/gan-studio) when it was built, else `studio` on PATH.
# The entry goes to $XDG_DATA_HOME/applications (default ~/.local/share), the icons to
# $XDG_DATA_HOME/icons/hicolor, the .ganstudio project type to $XDG_DATA_HOME/mime. GAN Studio then
# appears in the menu and in "Open With" for PNG, JPEG, WebP and TIFF, and opens project files;
# --default also makes it the default application for those types.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
APPS="$DATA/applications"
ICONS="$DATA/icons/hicolor"
ENTRY="gan-studio.desktop"
MIME_XML="gan-studio-mime.xml"  # declares application/x-gan-studio-project (*.ganstudio)
MIME_TYPES=(image/png image/jpeg image/webp image/tiff application/x-gan-studio-project)
SIZES=(16 32 48 64 128 256)

say() { echo "install-desktop: $*"; }
die() { echo "install-desktop: error: $*" >&2; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }

refresh_caches() {  # each tool is optional: desktops that lack them rescan on their own
    if have update-desktop-database; then update-desktop-database -q "$APPS" 2>/dev/null || true; fi
    if have gtk-update-icon-cache; then gtk-update-icon-cache -q -f -t "$ICONS" 2>/dev/null || true; fi
}

# The project type: xdg-mime when there is one, else the file itself (the spec's place for it),
# and the MIME database rebuilt when update-mime-database exists (else the desktop does it).
install_mime() {
    if have xdg-mime && xdg-mime install --mode user "$HERE/$MIME_XML" 2>/dev/null; then return; fi
    install -D -m 644 "$HERE/$MIME_XML" "$DATA/mime/packages/$MIME_XML"
    if have update-mime-database; then update-mime-database "$DATA/mime" 2>/dev/null || true; fi
}

uninstall_mime() {
    if have xdg-mime; then xdg-mime uninstall --mode user "$HERE/$MIME_XML" 2>/dev/null || true; fi
    rm -f "$DATA/mime/packages/$MIME_XML"
    if [[ -d "$DATA/mime" ]] && have update-mime-database; then
        update-mime-database "$DATA/mime" 2>/dev/null || true
    fi
}

uninstall() {
    rm -f "$APPS/$ENTRY" "$ICONS/scalable/apps/gan-studio.svg"
    uninstall_mime
    for n in "${SIZES[@]}"; do rm -f "$ICONS/${n}x${n}/apps/gan-studio.png"; done
    # Defaults set with --default: drop our entry from the user's mimeapps.list.
    local list="${XDG_CONFIG_HOME:-$HOME/.config}/mimeapps.list"
    if [[ -f "$list" ]] && grep -q "$ENTRY" "$list"; then
        sed -i -e "s/gan-studio\.desktop;\{0,1\}//g" -e '/^[^=[]*=$/d' "$list"
    fi
    refresh_caches
    say "removed $APPS/$ENTRY, the icons and the project file type"
}

set_default=0
exe=""
for arg in "$@"; do
    case "$arg" in
        --uninstall) uninstall; exit 0 ;;
        --default) set_default=1 ;;
        -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $arg (see --help)" ;;
        *) [[ -z "$exe" ]] || die "give one executable path"; exe="$arg" ;;
    esac
done

if [[ -z "$exe" ]]; then
    if [[ -x "$ROOT/dist/gan-studio/gan-studio" ]]; then exe="$ROOT/dist/gan-studio/gan-studio"
    elif have studio; then exe="$(command -v studio)"
    else die "no gan-studio executable: build the bundle (packaging/build.sh), install the package, or give its path"
    fi
fi
[[ -f "$exe" && -x "$exe" ]] || die "$exe is not an executable file"
exe="$(readlink -f "$exe")"
# Exec= has its own quoting rules; a path needing escapes is refused rather than mis-quoted.
case "$exe" in *[\"\`\$\\]*|*$'\n'*) die "unsupported character in the path $exe: move the bundle" ;; esac
exec_cmd="$exe"
[[ "$exe" =~ ^[A-Za-z0-9_./+-]+$ ]] || exec_cmd="\"$exe\""

mkdir -p "$APPS"
tmp="$APPS/.$ENTRY.tmp"
while IFS= read -r line; do
    case "$line" in
        Exec=*) printf 'Exec=%s %%f\n' "$exec_cmd" ;;
        TryExec=*) printf 'TryExec=%s\n' "$exe" ;;
        *) printf '%s\n' "$line" ;;
    esac
done < "$HERE/$ENTRY" > "$tmp"
mv "$tmp" "$APPS/$ENTRY"

for n in "${SIZES[@]}"; do
    install -D -m 644 "$HERE/icons/hicolor/${n}x${n}/apps/gan-studio.png" "$ICONS/${n}x${n}/apps/gan-studio.png"
done
install -D -m 644 "$HERE/icons/gan-studio.svg" "$ICONS/scalable/apps/gan-studio.svg"
install_mime
refresh_caches
say "installed $APPS/$ENTRY (runs $exe), icons under $ICONS and the .ganstudio file type"

if [[ $set_default == 1 ]]; then
    if have xdg-mime; then
        xdg-mime default "$ENTRY" "${MIME_TYPES[@]}"
        say "GAN Studio is now the default for ${MIME_TYPES[*]}"
    else
        say "xdg-mime not found: choose GAN Studio in your file manager's \"Open With\" instead"
    fi
fi
