# RPM %preun: on erase (not on upgrade), stop and disable the service; every systemctl call may fail.
# $1 is 0 on erase, 1 or more on upgrade.
if [ "$1" -eq 0 ]; then
    systemctl --no-reload disable --now whatsapi.service >/dev/null 2>&1 || :
fi
exit 0
