from course_utils.grading.cli import main

main()
