import sys

from course_lib.machinery.cli import main

sys.exit(main())
